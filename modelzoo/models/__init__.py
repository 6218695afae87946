"""Model families, one module each. Importing a module registers its entries.

Adding a family is one new module here, with `@register` on its builder, plus its import below.
"""

from modelzoo.models import bag, bert, cnn, mlp, mobilenet, rnn, textcnn, transformer

__all__ = ["bag", "bert", "cnn", "mlp", "mobilenet", "rnn", "textcnn", "transformer"]
