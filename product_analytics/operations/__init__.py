"""Operating the pipeline: schedules."""
