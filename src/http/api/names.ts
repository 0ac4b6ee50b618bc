// The stream name fields of /api routes: the same pattern as WHIP/WHEP paths, so the API names only what can exist.
import { Type } from 'typebox';
import { STREAM_NAME_PATTERN } from '../../core/index.js';

export const Name = Type.String({ pattern: STREAM_NAME_PATTERN });
export const StreamParams = Type.Object({ app: Name, stream: Name });
