"""The published dataset: which frames go in, subject-grouped splits, manifests and the dataset card."""
