"""Run shap's DeepExplainer (Rescale, DeepSHAP) on Keras 3 model files, as a test oracle.

shap overrides TensorFlow's gradient registry while it explains, and leaves
gradient overrides behind, so the tests run it in its own process::

    python shap_oracle.py request.json

The request lists jobs, each a ``.keras`` model file, an ``npz`` holding ``x``
and ``background`` (the references, shared by every row of ``x``) and the
``out`` npz to write: ``values`` of shape (outputs, rows, ...), or ``error``
(a one-line reason) where shap cannot explain the model.
"""
import json
import sys

import numpy as np


def explain(model_path: str, npz: str) -> np.ndarray:
    import keras
    import shap

    model = keras.models.load_model(model_path, compile=False)
    data = np.load(npz)
    values = shap.DeepExplainer(model, data["background"]).shap_values(data["x"], check_additivity=False)
    if isinstance(values, list):
        return np.stack([np.asarray(v) for v in values])
    return np.moveaxis(np.asarray(values), -1, 0)  # newer shap: a trailing output axis


def main(request_path: str) -> None:
    for job in json.loads(open(request_path).read()):
        try:
            np.savez(job["out"], values=explain(job["model"], job["npz"]))
        except Exception as err:  # the oracle reports where shap cannot run
            np.savez(job["out"], error=np.array(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"))


if __name__ == "__main__":
    main(sys.argv[1])
