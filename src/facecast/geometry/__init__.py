"""Face geometry shared by every stage: the 68-point landmark vocabulary, the one inter-ocular
distance, similarity transforms, the canonical frontal frame, outlines, boxes and piecewise-affine
warps. A ground floor: it imports no stage package."""
