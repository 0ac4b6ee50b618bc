// Recording logic without media: template validation and matching, naming, playlists, triggers.
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/config/config.js';
import { renderPlaylist } from '../../src/recording/playlist.js';
import { bestMatch } from '../../src/core/index.js';
import { escapeTime, expandNaming } from '../../src/recording/templates.js';
import { validateTemplate, type RecordTemplate } from '../../src/config/recording.js';
import { interpretOnDemandAnswer, needRecord } from '../../src/recording/triggers.js';

describe('template validation', () => {
  it('fills the defaults', () => {
    expect(validateTemplate({ id: 't' })).toMatchObject({
      domain: '*', app: '*', stream: '*', formats: ['m3u8'], segmentSeconds: 30, cycleMinutes: 180, spliceSeconds: 180, trigger: 'auto',
      naming: { file: 'record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}', segment: 'record/{AppName}/{StreamName}/{UnixTimestamp}_{Sequence}' },
    });
  });
  it.each([
    [{ segmentSeconds: 3 }, 'segmentSeconds must be between 5 and 30, got 3'],
    [{ segmentSeconds: 31 }, 'segmentSeconds must be between 5 and 30, got 31'],
    [{ cycleMinutes: 14 }, 'cycleMinutes must be between 15 and 360, got 14'],
    [{ cycleMinutes: 361 }, 'cycleMinutes must be between 15 and 360, got 361'],
    [{ spliceSeconds: 10 }, 'spliceSeconds must be between 15 and 21600, got 10'],
    [{ spliceSeconds: 21601 }, 'spliceSeconds must be between 15 and 21600, got 21601'],
    [{ formats: ['m3u8', 'cmaf'] }, 'formats m3u8 and cmaf cannot be used together'],
    [{ formats: ['avi'] }, 'formats'],
    [{ formats: ['cmaf', 'm3u8', 'mp4'] }, 'formats m3u8 and cmaf cannot be used together'],
    [{ naming: { file: '../escape/{StreamName}' } }, 'naming.file must be a relative path'],
  ])('refuses %j', (fields, message) => {
    expect(() => validateTemplate({ id: 't', ...fields })).toThrow(message);
  });
  it('accepts cmaf alone or with mp4/flv', () => {
    expect(validateTemplate({ id: 't', formats: ['cmaf'] }).formats).toEqual(['cmaf']);
    expect(validateTemplate({ id: 't', formats: ['cmaf', 'mp4', 'flv'] }).formats).toEqual(['cmaf', 'mp4', 'flv']);
    expect(resolveConfig({ recording: { templates: [{ id: 'a', formats: ['cmaf', 'mp4'] }] } }).recording.templates[0]?.formats).toEqual(['cmaf', 'mp4']);
  });
  it('accepts the range bounds', () => {
    expect(validateTemplate({ id: 't', segmentSeconds: 5, cycleMinutes: 360, spliceSeconds: 15 }).segmentSeconds).toBe(5);
  });
  it('refuses bad templates at config load with the same message', () => {
    expect(() => resolveConfig({ recording: { templates: [{ id: 'a', segmentSeconds: 3 }] } })).toThrow(ConfigError);
    expect(() => resolveConfig({ recording: { templates: [{ id: 'a', segmentSeconds: 3 }] } })).toThrow('/recording/templates/0: segmentSeconds must be between 5 and 30, got 3');
    expect(() => resolveConfig({ recording: { templates: [{ id: 'a', formats: ['cmaf', 'm3u8'] }] } })).toThrow('m3u8 and cmaf');
    expect(resolveConfig({}).recording).toMatchObject({ directory: './recordings', templates: [], onDemandTimeoutMs: 3000, onDemandDefault: 'skip' });
  });
});

describe('template matching', () => {
  const t = (id: string, fields: Partial<RecordTemplate>) => validateTemplate({ id, ...fields });
  const templates = [t('any', {}), t('app', { app: 'live' }), t('exact', { app: 'live', stream: 's1' }), t('host', { domain: 'push.example.com' }), t('other', { app: 'other', stream: 's1' })];
  it('prefers exact app+stream, then app+*, then *+*', () => {
    expect(bestMatch(templates, { host: 'localhost', app: 'live', stream: 's1' })?.id).toBe('exact');
    expect(bestMatch(templates, { host: 'localhost', app: 'live', stream: 's2' })?.id).toBe('app');
    expect(bestMatch(templates, { host: 'localhost', app: 'news', stream: 's1' })?.id).toBe('any');
  });
  it('an exact domain beats * at the same names; another domain does not match', () => {
    expect(bestMatch(templates, { host: 'push.example.com:1935', app: 'news', stream: 'x' })?.id).toBe('host');
    expect(bestMatch([t('host', { domain: 'push.example.com' })], { host: 'localhost', app: 'a', stream: 'b' })).toBeUndefined();
  });
  it('no template, no match', () => {
    expect(bestMatch([], { host: 'h', app: 'a', stream: 'b' })).toBeUndefined();
  });
});

describe('naming', () => {
  const start = new Date('2026-11-22T08:15:30.250Z');
  const end = new Date('2026-11-22T09:00:01Z');
  it('escapes times filesystem-safe, UTC', () => {
    expect(escapeTime(start)).toBe('2026-11-22-08-15-30');
  });
  it('expands every placeholder', () => {
    expect(expandNaming('record/{AppName}/{StreamName}/{EscapedStartTime}_{EscapedEndTime}', { app: 'live', stream: 's1', start, end })).toBe('record/live/s1/2026-11-22-08-15-30_2026-11-22-09-00-01');
    expect(expandNaming('r/{UnixTimestamp}_{Sequence}', { app: 'a', stream: 'b', unixTimestamp: 1795334666.7, sequence: 12 })).toBe('r/1795334666_12');
    expect(expandNaming('{EscapedStartTime}_{EscapedEndTime}', { app: 'a', stream: 'b', start, endText: 'recording' })).toBe('2026-11-22-08-15-30_recording');
  });
  it('cannot leave the directory through a name', () => {
    expect(expandNaming('{AppName}/{StreamName}', { app: '..', stream: 'a/b' })).toBe('_/a_b');
  });
});

describe('playlist', () => {
  const seg = (uri: string, discontinuity = false) => ({ uri, durationSeconds: 5.005, programDateTime: new Date('2026-11-22T08:15:30Z'), discontinuity });
  it('writes one PROGRAM-DATE-TIME per segment, a discontinuity at a splice, ENDLIST when finished', () => {
    const text = renderPlaylist([seg('a.ts'), seg('b.ts'), seg('c.ts', true)], true);
    expect(text.split('\n')).toEqual([
      '#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:6', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-PROGRAM-DATE-TIME:2026-11-22T08:15:30.000Z', '#EXTINF:5.005,', 'a.ts',
      '#EXT-X-PROGRAM-DATE-TIME:2026-11-22T08:15:30.000Z', '#EXTINF:5.005,', 'b.ts',
      '#EXT-X-DISCONTINUITY', '#EXT-X-PROGRAM-DATE-TIME:2026-11-22T08:15:30.000Z', '#EXTINF:5.005,', 'c.ts',
      '#EXT-X-ENDLIST', '',
    ]);
  });
  it('fMP4 segments: version 7, EXT-X-MAP before the first segment, again after a discontinuity or a new init', () => {
    const fmp4 = (uri: string, init: string, discontinuity = false) => ({ ...seg(uri, discontinuity), init });
    const text = renderPlaylist([fmp4('1_0.m4s', '1_init.mp4'), fmp4('6_1.m4s', '1_init.mp4'), fmp4('20_2.m4s', '20_init.mp4', true), fmp4('25_3.m4s', '20_init.mp4'), fmp4('40_4.m4s', '20_init.mp4', true)], true);
    expect(text.split('\n').filter((l) => !l.startsWith('#EXT-X-PROGRAM-DATE-TIME') && !l.startsWith('#EXTINF'))).toEqual([
      '#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:6', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-MAP:URI="1_init.mp4"', '1_0.m4s', '6_1.m4s',
      '#EXT-X-DISCONTINUITY', '#EXT-X-MAP:URI="20_init.mp4"', '20_2.m4s', '25_3.m4s',
      '#EXT-X-DISCONTINUITY', '#EXT-X-MAP:URI="20_init.mp4"', '40_4.m4s',
      '#EXT-X-ENDLIST', '',
    ]);
    expect(renderPlaylist([seg('a.ts')], true)).not.toContain('#EXT-X-MAP');
  });
  it('an open recording has no ENDLIST and is an EVENT playlist', () => {
    const text = renderPlaylist([seg('a.ts', true)], false);
    expect(text).not.toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('#EXT-X-DISCONTINUITY'); // never before the first segment
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
  });
});

describe('triggers', () => {
  it('parses record_config defensively', () => {
    expect(needRecord({ record_config: '{"NeedRecord":true}' })).toBe(true);
    expect(needRecord({ record_config: '{"NeedRecord":false}' })).toBe(false);
    expect(needRecord({ record_config: encodeURIComponent('{"NeedRecord":true}') })).toBe(true);
    expect(needRecord({ record_config: '{"NeedRecord":"true"}' })).toBe(true);
    expect(needRecord({})).toBeUndefined();
    expect(needRecord({ record_config: 'not json' })).toBeUndefined();
    expect(needRecord({ record_config: '[1]' })).toBeUndefined();
    expect(needRecord({ record_config: 'null' })).toBeUndefined();
    expect(needRecord({ record_config: '{"NeedRecord":"maybe"}' })).toBeUndefined();
  });
  it('validates on-demand answers and intersects formats', () => {
    expect(interpretOnDemandAnswer({ record: true }, ['m3u8', 'mp4'])).toMatchObject({ record: true, formats: ['m3u8', 'mp4'] });
    expect(interpretOnDemandAnswer({ record: true, formats: ['mp4', 'flv'], intervalMinutes: 30 }, ['m3u8', 'mp4'])).toMatchObject({ record: true, formats: ['mp4'], cycleMinutes: 30 });
    expect(interpretOnDemandAnswer({ record: true, formats: ['flv'] }, ['m3u8'])).toMatchObject({ record: false });
    expect(interpretOnDemandAnswer({ record: false }, ['m3u8'])).toMatchObject({ record: false });
    expect(interpretOnDemandAnswer({ record: 'yes' }, ['m3u8'])).toBeUndefined();
    expect(interpretOnDemandAnswer({ record: true, intervalMinutes: 5 }, ['m3u8'])).toBeUndefined();
    expect(interpretOnDemandAnswer('nonsense', ['m3u8'])).toBeUndefined();
  });
});
