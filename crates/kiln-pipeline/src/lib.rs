//! The Kiln factory: kiln.yaml, the build stage, the stage runner, SLSA provenance, the evidence ledger.
