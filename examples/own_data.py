"""Your own data: a folder of images, trained, evaluated and served with your class names.

scikit-learn's 8x8 digits stand in for your photos: this script writes them as PNG files into
`my_digits/<class name>/`, the layout you would have. Swap in your own folder (or a CSV with
`target=`, or a text file) and the rest stays the same.

    python examples/own_data.py
"""

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import modelzoo

# 1. A folder of images, one sub-folder per class: my_digits/zero/0.png, my_digits/one/1.png, ...
names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
digits = load_digits()
for i, (image, label) in enumerate(zip(digits.images, digits.target)):
    folder = Path("my_digits") / names[label]
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.uint8(image * 255 / 16)).save(folder / f"{i}.png")

# 2. Read it: classes, image size and a stratified train/validation/test split are inferred.
data = modelzoo.load_files("my_digits")
print(data.summary())  # examples per class and split, image sizes, anything skipped and why

# 3. An entry's tuned hyperparameters and recipe on your data (or an architecture: "cnn", "mlp").
model = modelzoo.build("cnn_digits", data=data)
modelzoo.fit(model, verbose=2)
print("test:", modelzoo.evaluate(model))  # on your test split

# 4. A SavedModel whose answers carry your class names: "labels": "seven", ...
path = modelzoo.export(model, export_dir="saved_models")  # saved_models/cnn_digits_my_digits/1
print("SavedModel for TF Serving:", path)
