# whipcast on Debian bookworm, built and run exactly as the README does (scripts/setup.sh, then the server).
# Media needs UDP: run with --network host, or publish the ports and pass --announced-ip <host address>.
FROM node:20-bookworm
WORKDIR /opt/whipcast
COPY . .
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
# HTTP (WHIP/WHEP/API/demo), RTMP, WebRTC media (worker i uses 40000+i, UDP and TCP)
EXPOSE 8080/tcp 1935/tcp 40000-40001/udp 40000-40001/tcp
ENTRYPOINT ["node", "dist/src/main.js"]
