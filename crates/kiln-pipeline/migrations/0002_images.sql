-- What the factory knows about its images beyond single runs: their packages (for "which
-- images contain package X"), their vulnerability findings (first and last seen, by runs
-- and re-scans), each scan's counts by severity (the dashboard's chart over time), the
-- images the admission webhook reported as admitted, and the push-webhook deliveries seen
-- (so a replayed delivery is refused). Portable SQL, as 0001.
CREATE TABLE kiln_packages (
    image_digest TEXT NOT NULL,
    run_id TEXT NOT NULL REFERENCES kiln_runs (id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    purl TEXT NOT NULL,
    PRIMARY KEY (image_digest, purl)
);
CREATE INDEX kiln_packages_name ON kiln_packages (name);
CREATE TABLE kiln_findings (
    image_digest TEXT NOT NULL,
    vuln_id TEXT NOT NULL,
    purl TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    -- critical | high | medium | low | unknown
    severity TEXT NOT NULL,
    fixed_version TEXT,
    -- JSON array of alias ids (CVE-…, GHSA-…)
    aliases TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    -- 'run:<run id>' or 'rescan:<scan id>': what found it first
    source TEXT NOT NULL,
    PRIMARY KEY (image_digest, vuln_id, purl)
);
CREATE INDEX kiln_findings_vuln ON kiln_findings (vuln_id);
CREATE TABLE kiln_scans (
    id TEXT PRIMARY KEY,
    image_digest TEXT NOT NULL,
    run_id TEXT REFERENCES kiln_runs (id),
    -- 'run' or 'rescan'
    kind TEXT NOT NULL,
    scanned_at BIGINT NOT NULL,
    db_built TEXT,
    critical BIGINT NOT NULL,
    high BIGINT NOT NULL,
    medium BIGINT NOT NULL,
    low BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    new_findings BIGINT NOT NULL
);
CREATE INDEX kiln_scans_time ON kiln_scans (scanned_at);
CREATE TABLE kiln_admissions (
    image_digest TEXT NOT NULL,
    image TEXT NOT NULL,
    namespace TEXT NOT NULL,
    first_admitted BIGINT NOT NULL,
    last_admitted BIGINT NOT NULL,
    admissions BIGINT NOT NULL,
    PRIMARY KEY (image_digest, image, namespace)
);
CREATE TABLE kiln_deliveries (
    -- '<forge>:<delivery id>'
    id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    repository TEXT NOT NULL,
    commit_sha TEXT,
    run_id TEXT
);
