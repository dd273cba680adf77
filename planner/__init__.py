"""The application: scenario files, the CLI, solving, batches, outputs and reports."""
