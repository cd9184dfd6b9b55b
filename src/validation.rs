//! Placement validation (placeholder; being written).
