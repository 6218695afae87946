"""Run a `.tflite` the way a device does: the LiteRT interpreter, and nothing of TensorFlow or modelzoo.

Run as a script in a fresh process: argv[1] the `.tflite`, argv[2] an `.npz` of inputs by name,
argv[3] where to write the `.npz` of outputs by name. It prints the modules it imported that a
device would not have (TensorFlow, Keras, modelzoo), which must be none.
"""

import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def main() -> None:
    model, inputs, outputs = sys.argv[1:4]
    runner = Interpreter(model_path=model).get_signature_runner("serving_default")
    with np.load(inputs, allow_pickle=False) as given:
        feed = {name: given[name] for name in given.files}
    answer = runner(**{k: v.astype(object) if v.dtype.kind == "U" else v for k, v in feed.items()})
    np.savez(outputs, **answer)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "modelzoo"))
    print(",".join(heavy) or "none")


if __name__ == "__main__":
    main()
