// Transcoding without media: template and config validation (messages naming the field and its range), what a
// template makes of a source (size, rate, GOP, level, refusals), rendition names, and the FFmpeg arguments.
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/config/config.js';
import { validateTranscodeTemplate } from '../../src/config/transcoding.js';
import { filterGraph, fittedRendition, h264Level, parseRenditionName, planRendition, renditionName, renditionOutputs, type RenditionPlan, type SourceVideo } from '../../src/media/transcoding/plan.js';

const template = (video: Record<string, unknown>, fields: Record<string, unknown> = {}) => validateTranscodeTemplate({ id: 'sd', video: { bitrateKbps: 500, ...video }, ...fields });
const SOURCE: SourceVideo = { width: 640, height: 360, rate: '30/1' };

function plan(video: Record<string, unknown>, source = SOURCE): RenditionPlan {
  const planned = planRendition(template(video), source);
  if ('misfit' in planned) throw new Error(planned.misfit.message);
  return planned.plan;
}

describe('template validation', () => {
  it('fills the defaults', () => {
    expect(validateTranscodeTemplate({ id: 'ld', video: { bitrateKbps: 300 } })).toEqual({
      id: 'ld',
      trigger: 'on-demand',
      video: { bitrateKbps: 300, gopSeconds: 1, profile: 'baseline', preset: 'veryfast', tune: 'zerolatency' },
      audio: { opusKbps: 64, aacKbps: 96 },
    });
  });

  it.each([
    [{ id: 'HD' }, 'id must be 1–32 characters of a-z and 0-9, got "HD"'],
    [{ id: 'h_d' }, 'id must be 1–32 characters of a-z and 0-9, got "h_d"'],
    [{ video: undefined }, 'video is required'],
    [{ video: {} }, 'video.bitrateKbps is required (50–20000)'],
    [{ video: { bitrateKbps: 10 } }, 'video.bitrateKbps must be 50–20000, got 10'],
    [{ video: { bitrateKbps: 20001 } }, 'video.bitrateKbps must be 50–20000, got 20001'],
    [{ video: { bitrateKbps: 'fast' } }, 'video.bitrateKbps must be a number 50–20000, got "fast"'],
    [{ video: { bitrateKbps: 500, width: 481 } }, 'video.width must be even (H264 4:2:0), got 481'],
    [{ video: { bitrateKbps: 500, height: 8 } }, 'video.height must be 16–4320, got 8'],
    [{ video: { bitrateKbps: 500, fps: 0 } }, 'video.fps must be 1–120, got 0'],
    [{ video: { bitrateKbps: 500, gopSeconds: 20 } }, 'video.gopSeconds must be 0.5–10, got 20'],
    [{ video: { bitrateKbps: 500, profile: 'high10' } }, 'video.profile must be one of baseline, main, high, got "high10"'],
    [{ video: { bitrateKbps: 500, preset: 'placebo' } }, 'video.preset must be one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, got "placebo"'],
    [{ video: { bitrateKbps: 500, tune: 'latency' } }, 'video.tune must be one of zerolatency, film, animation, grain, stillimage, fastdecode, got "latency"'],
    [{ trigger: 'auto' }, 'trigger must be one of on-demand, always, got "auto"'],
    [{ audio: { opusKbps: 600 } }, 'audio.opusKbps must be 16–256, got 600'],
    [{ video: { bitrateKbps: 500, bframes: 2 } }, 'video must not have additional properties'],
  ])('refuses %j', (fields, message) => {
    expect(() => validateTranscodeTemplate({ id: 'sd', video: { bitrateKbps: 500 }, ...fields })).toThrow(message);
  });

  it('names every problem at once', () => {
    expect(() => template({ bitrateKbps: 10, fps: 500 })).toThrow('video.fps must be 1–120, got 500; video.bitrateKbps must be 50–20000, got 10');
  });
});

describe('transcoding config', () => {
  const templates = [{ id: 'ld', video: { height: 180, bitrateKbps: 300 } }, { id: 'sd', video: { height: 360, bitrateKbps: 800 } }];

  it('has the defaults the README names', () => {
    expect(resolveConfig({}).transcoding).toEqual({ templates: [], ladders: [], maxRenditions: 8, idleSeconds: 10 });
  });

  it('keeps ladders whose templates exist, webrtc included (not used yet)', () => {
    const config = resolveConfig({ transcoding: { templates, ladders: [{ app: 'live', templates: ['ld', 'sd'], webrtc: true }, { templates: ['ld'] }] } });
    expect(config.transcoding.ladders).toEqual([{ app: 'live', templates: ['ld', 'sd'], webrtc: true }, { templates: ['ld'], webrtc: false }]);
  });

  it.each([
    [{ templates, ladders: [{ templates: ['ld', 'hd'] }] }, '/transcoding/ladders/0/templates: no template "hd" (templates: ld, sd)'],
    [{ templates: [...templates, templates[0]] }, '/transcoding/templates/2: duplicate template id ld'],
    [{ templates: [{ id: 'x', video: { bitrateKbps: 10 } }] }, '/transcoding/templates/0: video.bitrateKbps must be 50–20000, got 10'],
    [{ templates: [{ id: 'x', video: { bitrateKbps: 500, preset: 'warp' } }] }, '/transcoding/templates/0: video.preset must be one of'],
    [{ maxRenditions: 0 }, '/transcoding/maxRenditions'],
    [{ idleSeconds: 0 }, '/transcoding/idleSeconds'],
    [{ ladders: [{ templates: [] }] }, '/transcoding/ladders/0/templates'],
  ])('refuses %j at config load', (transcoding, message) => {
    expect(() => resolveConfig({ transcoding })).toThrow(ConfigError);
    expect(() => resolveConfig({ transcoding })).toThrow(message);
  });
});

describe('what a template makes of a source', () => {
  it('follows the source aspect ratio with even sizes when only one side is given', () => {
    expect(plan({ height: 240 })).toMatchObject({ width: 426, height: 240 });
    expect(plan({ width: 480 })).toMatchObject({ width: 480, height: 270 });
    expect(plan({ height: 180 }, { width: 1366, height: 768, rate: '30/1' })).toMatchObject({ width: 320, height: 180 });
    expect(plan({ width: 640, height: 480 }, { width: 640, height: 480, rate: '25/1' })).toMatchObject({ width: 640, height: 480 });
    expect(plan({}, { width: 1279, height: 721, rate: '30/1' })).toMatchObject({ width: 1278, height: 720 });
  });

  it('refuses to upscale, naming the template, what it asks and the source', () => {
    expect(planRendition(template({ height: 720 }), SOURCE)).toEqual({ misfit: { reason: 'upscale', message: "template sd asks for height 720, above the source's 640x360: renditions are never upscaled" } });
    expect(planRendition(template({ width: 800 }), SOURCE)).toMatchObject({ misfit: { reason: 'upscale' } });
  });

  it('keeps the source rate unless asked for less, and refuses more', () => {
    expect(plan({})).toMatchObject({ rate: '30/1', fps: 30, gopFrames: 30 });
    expect(plan({ fps: 15, gopSeconds: 2 })).toMatchObject({ rate: '15', fps: 15, gopFrames: 30 });
    expect(plan({ fps: 30 }, { ...SOURCE, rate: '30000/1001' })).toMatchObject({ rate: '30000/1001' });
    expect(planRendition(template({ fps: 60 }), SOURCE)).toEqual({ misfit: { reason: 'fps', message: "template sd asks for 60 fps, above the source's 30 fps" } });
    expect(plan({ fps: 24 }, { ...SOURCE, rate: undefined })).toMatchObject({ rate: '24', gopFrames: 24 });
  });

  it('brings a WebRTC ladder layer within a source that shrank, keeping its aspect and its bitrate', () => {
    const small: SourceVideo = { width: 320, height: 240, rate: '25/1' };
    expect(fittedRendition(template({ width: 480 }), small)).toMatchObject({ width: 320, height: 240, bitrateKbps: 500 });
    expect(fittedRendition(template({ width: 640, height: 360 }), small)).toMatchObject({ width: 320, height: 180 });
    expect(fittedRendition(template({ height: 180, fps: 30 }), small)).toMatchObject({ width: 240, height: 180, fps: 25, dropToFps: undefined });
    // One that fits is planned as usual.
    expect(fittedRendition(template({ height: 180 }), SOURCE)).toEqual(plan({ height: 180 }));
  });

  it('picks the lowest H264 level from 3.1 that fits, and declares it in the profile-level-id', () => {
    expect(h264Level(1280, 720, 30, 2500).name).toBe('3.1');
    expect(h264Level(1280, 720, 60, 4000).name).toBe('3.2');
    expect(h264Level(1920, 1080, 30, 6000).name).toBe('4');
    expect(h264Level(1920, 1080, 60, 8000).name).toBe('4.2');
    expect(plan({})).toMatchObject({ level: '3.1', profileLevelId: '42e01f' });
    expect(planRendition(template({ profile: 'high' }), { width: 1920, height: 1080, rate: '30/1' })).toMatchObject({ plan: { profileLevelId: '640028' } });
  });
});

describe('rendition names and FFmpeg arguments', () => {
  it('names a rendition {stream}_{id} and reads it back at the last underscore', () => {
    expect(renditionName('cam_1', 'sd')).toBe('cam_1_sd');
    expect(parseRenditionName('cam_1_sd')).toEqual({ source: 'cam_1', templateId: 'sd' });
    expect(parseRenditionName('cam')).toBeUndefined();
    expect(parseRenditionName('_sd')).toBeUndefined();
    expect(parseRenditionName('cam_')).toBeUndefined();
  });

  it('decodes once and splits into every rendition; frames dropped by selection; no B-frames, key frames at the source\'s and at least every GOP', () => {
    const ld = plan({ height: 180, fps: 15, gopSeconds: 2 });
    const sd = plan({ width: 480 });
    expect(ld.dropToFps).toBe(15);
    expect(sd.dropToFps).toBeUndefined();
    expect(filterGraph([ld, sd], true)).toBe(
      "[0:v:0]split=2[s0][s1];[s0]select='key+isnan(prev_selected_t)+gt(floor(t*15)\\,floor(prev_selected_t*15))',scale=320:180,format=yuv420p[v0];[s1]scale=480:270,format=yuv420p[v1];[0:a:0]aresample=48000,asplit=2[a0][a1]",
    );
    const target = { ip: '127.0.0.1', port: 5000, rtcpPort: 5001, localPort: 6000, payloadType: 102, ssrc: 1234 };
    const [video, audio] = renditionOutputs({ plan: ld, video: target, audio: { ...target, payloadType: 111 } }, 0);
    expect(video?.options.join(' ')).toContain('-map [v0] -c:v libx264 -preset veryfast -tune zerolatency -profile:v baseline -level:v 3.1 -bf 0 -force_key_frames source -g 30 -keyint_min 30 -sc_threshold 0 -fps_mode passthrough -b:v 500k');
    expect(video?.url).toBe('rtp://127.0.0.1:5000?rtcpport=5001&localrtpport=6000&localrtcpport=6001&pkt_size=1200');
    expect(audio?.options.join(' ')).toContain('-map [a0] -c:a libopus -b:a 64k');
  });
});
