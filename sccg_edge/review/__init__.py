"""Qualitative review of synthetic images: a visual gallery and a blinded reader study.

The paper judged its images by metrics and by radiographers who answered, for each image, "How similar is this image
to a real MR / real CT?" on five levels. This package turns both into tools:

* :func:`sccg_edge.review.gallery.make_gallery` writes a static HTML page (images as PNG files beside it) with every
  model's output beside the input and the ground truth, difference maps and per-image PSNR / SSIM / MAE;
* :func:`sccg_edge.review.study.make_study` writes one blinded page per reader and, beside them, the key;
* :func:`sccg_edge.review.score.score_study` reads the answer files the readers send back and reports the
  positive-answer rate, mean scores, per-reader figures and inter-reader agreement.

Every page is self-contained (inline CSS and script, no network); nothing here imports an inference runtime until a
model is loaded through :mod:`sccg_edge.backends`.
"""
