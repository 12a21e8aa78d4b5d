"""What the warehouse hands to readers outside the pipeline."""
