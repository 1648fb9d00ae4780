"""Label-preserving augmentation of the frames that passed gate (stage ``augment``).

``policy``: the albumentations pipeline from params, with keypoints and boxes added;
``replay``: the replay record as JSON and back; ``labels``: what a mirror image does to
labels and to the order of the 68 landmarks; ``frame``: one draw or replay on one frame and
its faces; ``stage``: the stage itself.
"""
