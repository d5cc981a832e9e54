/* The state store's schema as a list of migrations: migration i (0-based) takes a
 * database from PRAGMA user_version i to i + 1, so the schema version is the list's
 * length. store.c runs each one in its own transaction together with the user_version
 * bump, so a crash mid-migration leaves the previous version intact.
 *
 * Migrations are append-only: a shipped migration is never edited (databases already
 * past it would never see the change); a later issue that needs a table or a column
 * adds a new entry at the end. The SQL keeps its comments, so `.schema` in the sqlite3
 * shell shows them. JSON columns hold jansson-serialized text and default to an empty
 * array or object, so readers never meet NULL there. Times are milliseconds since the
 * epoch. */
#include "store/store.h"

static const char *const migrations[] = {
    /* 1: devices and their tokens, device and node pairing. */
    "CREATE TABLE devices(\n"
    "  device_id TEXT PRIMARY KEY,\n"
    "  public_key TEXT NOT NULL,\n"
    "  display_name TEXT,\n"
    "  roles TEXT NOT NULL DEFAULT '[]', -- JSON array of approved roles\n"
    "  scopes TEXT NOT NULL DEFAULT '[]', -- JSON array of approved operator scopes\n"
    "  meta TEXT NOT NULL DEFAULT '{}', -- JSON: clientId, clientMode, platform, ...\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  approved_at_ms INTEGER,\n"
    "  last_seen_at_ms INTEGER,\n"
    "  last_seen_reason TEXT);\n"
    "CREATE TABLE device_tokens(\n"
    "  device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,\n"
    "  role TEXT NOT NULL,\n"
    "  token TEXT NOT NULL,\n"
    "  scopes TEXT NOT NULL DEFAULT '[]',\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  rotated_at_ms INTEGER,\n"
    "  revoked_at_ms INTEGER,\n"
    "  PRIMARY KEY(device_id, role));\n"
    "CREATE TABLE device_pair_requests(\n"
    "  request_id TEXT PRIMARY KEY,\n"
    "  device_id TEXT NOT NULL,\n"
    "  body TEXT NOT NULL, -- the pending entry as JSON\n"
    "  created_at_ms INTEGER NOT NULL);\n"
    "CREATE TABLE nodes(\n"
    "  node_id TEXT PRIMARY KEY,\n"
    "  body TEXT NOT NULL, -- the paired node record as JSON (approved surface, names, times)\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  approved_at_ms INTEGER);\n"
    "CREATE TABLE node_pair_requests(\n"
    "  request_id TEXT PRIMARY KEY,\n"
    "  node_id TEXT NOT NULL,\n"
    "  body TEXT NOT NULL,\n"
    "  created_at_ms INTEGER NOT NULL);\n",
    /* 2: sessions and their transcripts (agent/sessions.c). A session keeps one current
     * transcript; sessions.reset and sessions.delete archive it (archived_at_ms set) and
     * the rows stay under the transcript's own id and the session id it belonged to. */
    "CREATE TABLE sessions(\n"
    "  session_key TEXT PRIMARY KEY, -- canonical: agent:<agentId>:<name>\n"
    "  session_id TEXT NOT NULL, -- a UUID; kept by a reset of the main session\n"
    "  agent_id TEXT NOT NULL,\n"
    "  transcript_id TEXT NOT NULL, -- the current transcript (transcripts.transcript_id)\n"
    "  meta TEXT NOT NULL DEFAULT '{}', -- JSON: label, model, thinkingLevel, ...\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  updated_at_ms INTEGER NOT NULL,\n"
    "  input_tokens INTEGER NOT NULL DEFAULT 0,\n"
    "  output_tokens INTEGER NOT NULL DEFAULT 0,\n"
    "  last_preview TEXT); -- lastMessagePreview\n"
    "CREATE TABLE transcripts(\n"
    "  transcript_id TEXT PRIMARY KEY,\n"
    "  session_key TEXT NOT NULL,\n"
    "  session_id TEXT NOT NULL,\n"
    "  agent_id TEXT NOT NULL,\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  archived_at_ms INTEGER, -- NULL while current\n"
    "  archive_reason TEXT); -- reset, delete\n"
    "CREATE INDEX transcripts_archived ON transcripts(archived_at_ms)\n"
    "  WHERE archived_at_ms IS NOT NULL;\n"
    "CREATE INDEX transcripts_session ON transcripts(session_id);\n"
    "CREATE TABLE transcript_messages(\n"
    "  transcript_id TEXT NOT NULL REFERENCES transcripts(transcript_id) ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL, -- 1, 2, ... within the transcript\n"
    "  body TEXT NOT NULL, -- the message as JSON (chat.history's shape, runId, status)\n"
    "  status TEXT NOT NULL DEFAULT 'complete', -- complete, running, interrupted, ...\n"
    "  run_id TEXT,\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY(transcript_id, seq)) WITHOUT ROWID;\n"
    "CREATE INDEX transcript_messages_running ON transcript_messages(status)\n"
    "  WHERE status = 'running';\n",
    /* 3: cron jobs and their run log (src/cron), channel pairing and state (src/channels).
     * Bodies are the wire shapes as JSON (CronJob without its state, CronRunLogEntry, a
     * pairing request), so a new optional field needs no migration. */
    "CREATE TABLE cron_jobs(\n"
    "  job_id TEXT PRIMARY KEY,\n"
    "  body TEXT NOT NULL, -- the CronJob as JSON, without state\n"
    "  state TEXT NOT NULL DEFAULT '{}', -- CronJob.state: nextRunAtMs, lastRunAtMs, ...\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  updated_at_ms INTEGER NOT NULL);\n"
    "CREATE TABLE cron_runs(\n"
    "  entry_id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  job_id TEXT NOT NULL,\n"
    "  ts INTEGER NOT NULL,\n"
    "  body TEXT NOT NULL); -- the CronRunLogEntry as JSON\n"
    "CREATE INDEX cron_runs_job ON cron_runs(job_id, ts);\n"
    "CREATE TABLE channel_pairing(\n"
    "  channel TEXT NOT NULL, -- telegram, ...\n"
    "  sender_id TEXT NOT NULL, -- the channel's user id\n"
    "  code TEXT NOT NULL, -- the pairing code the sender was given\n"
    "  body TEXT NOT NULL DEFAULT '{}', -- JSON: username, name, chat, ...\n"
    "  created_at_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY(channel, sender_id));\n"
    "CREATE TABLE channel_allow(\n"
    "  channel TEXT NOT NULL,\n"
    "  sender_id TEXT NOT NULL, -- approved through pairing (config allowFrom adds more)\n"
    "  approved_at_ms INTEGER NOT NULL,\n"
    "  PRIMARY KEY(channel, sender_id));\n"
    "CREATE TABLE channel_state(\n"
    "  channel TEXT NOT NULL,\n"
    "  account_id TEXT NOT NULL,\n"
    "  body TEXT NOT NULL DEFAULT '{}', -- JSON: the update offset, last error, ...\n"
    "  PRIMARY KEY(channel, account_id));\n",
};

int cg_store_schema_version(void)
{
    return (int)(sizeof migrations / sizeof migrations[0]);
}

const char *cg_store_migration(int version)
{
    if (version < 1 || version > cg_store_schema_version()) return NULL;
    return migrations[version - 1];
}
