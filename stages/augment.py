"""Stage augment: label-preserving albumentations copies of every frame that passed gate, faces moved with them.

The work is ``facecast.augment.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("augment")
