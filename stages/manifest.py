"""Stage manifest: publish the frames that passed gate (and their augmented copies) in subject-grouped splits,
with Parquet manifests, a dataset card and metrics/dataset.json.

The work is ``facecast.manifest.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("manifest")
