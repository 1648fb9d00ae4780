"""Stage sample: build the embedded default (clips, labels, subjects, donors) from openpeople.

The work is ``facecast.sample.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("sample")
