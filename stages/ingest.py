"""Stage ingest: validate and index the footage under input.root; never modify it.

The work is ``facecast.ingest.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("ingest")
