"""pgolf: train, quantize, compress, evaluate and ship small GPTs under the Parameter Golf byte budget."""

__version__ = "0.1.0"
