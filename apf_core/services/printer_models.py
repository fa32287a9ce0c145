"""Does a file sliced for one printer model fit a printer? (lenient name matching)."""

from __future__ import annotations

import re

#: Bambu Studio writes internal printer codes into 3MF files (slice_info printer_model_id)
BAMBU_MODEL_CODES = {
    "BL-P001": "X1 Carbon",
    "BL-P002": "X1",
    "C11": "P1P",
    "C12": "P1S",
    "C13": "X1E",
    "N1": "A1 mini",
    "N2S": "A1",
    "O1D": "H2D",
}
_MODEL_CODE = re.compile(r"^(BL-P\d{3}|[A-Z]\d{1,2}[A-Z]?)$")


def _model_key(model: str) -> str:
    return model.lower().replace(" ", "").replace("-", "").replace("_", "")


def models_match(required: str | None, actual: str | None) -> bool:
    """Lenient model comparison: case, spaces and dashes do not matter, Bambu codes are
    translated, and an unknown internal code never blocks a print."""
    if not required or not actual:
        return True
    if required.upper() in BAMBU_MODEL_CODES:
        required = BAMBU_MODEL_CODES[required.upper()]
    elif _MODEL_CODE.match(required):
        return True
    a, b = _model_key(required), _model_key(actual)
    return a in b or b in a
