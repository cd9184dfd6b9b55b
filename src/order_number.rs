//! Human-facing order numbers (placeholder; being written).
