//! Secret scanning for Kiln: rules, the matching engine, sources (directories, staged changes, git history, image layers), findings with redaction, baselines.
