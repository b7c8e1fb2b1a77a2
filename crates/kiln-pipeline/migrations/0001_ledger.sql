-- The evidence ledger: runs, their stages and their evidence objects.
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Times are Unix milliseconds;
-- booleans are 0/1 BIGINTs; JSON is TEXT.
CREATE TABLE kiln_runs (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    commit_sha TEXT,
    tree_dirty BIGINT NOT NULL,
    config_digest TEXT NOT NULL,
    base_image TEXT,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    image TEXT,
    image_digest TEXT,
    failed_stage TEXT,
    reason TEXT,
    -- Who runs it: HOST:PID of the process that started it, so a crashed run can be told
    -- from one still in progress.
    owner TEXT
);
CREATE INDEX kiln_runs_started ON kiln_runs (started_at);
CREATE INDEX kiln_runs_status ON kiln_runs (status);
CREATE TABLE kiln_stages (
    run_id TEXT NOT NULL REFERENCES kiln_runs (id),
    seq BIGINT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    summary TEXT NOT NULL,
    log TEXT NOT NULL,
    outputs TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE kiln_evidence (
    run_id TEXT NOT NULL REFERENCES kiln_runs (id),
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    wrapping TEXT NOT NULL,
    key_id TEXT NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
