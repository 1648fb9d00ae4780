"""Stage evaluate: metrics/utility.json, how well the recast dataset still teaches the labelled task.

The work is ``facecast.evaluate.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("evaluate")
