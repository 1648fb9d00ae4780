"""Stage gate: measure every swapped face (de-identification, landmarks, expression, leaks) and pass or reject it.

The work is ``facecast.gate.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("gate")
