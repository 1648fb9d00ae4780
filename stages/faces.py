"""Stage faces: detect, landmark, track and embed every face of every clip and donor image.

The work is ``facecast.faces.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("faces")
