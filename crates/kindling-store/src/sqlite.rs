// written by the store helper
