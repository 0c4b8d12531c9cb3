"""The convert stage: slices through a generator, a DICOM series in and a synthesized DICOM series out.

:func:`convert_path` picks the reader from the input (a DICOM file, a DICOM series folder, a folder of several
series, or a folder of PNG slices: ``dicom.py``, ``png.py``). The inference is one
:class:`~sccg_edge.backends.Backend` chosen once (``translator.py``): the torch backend for a model spec (shipped name,
model/run folder, ``.safetensors``), or the backend an exported artifact's suffix implies. Output folders are written
whole or not at all (``output.py``).
"""

from __future__ import annotations

from sccg_edge.convert.output import clean_stale_partials
from sccg_edge.convert.path import convert_path
from sccg_edge.convert.translator import Translator, load_translator, model_label, translate_slice

__all__ = ["Translator", "clean_stale_partials", "convert_path", "load_translator", "model_label", "translate_slice"]
