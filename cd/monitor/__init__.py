"""After deployment: data capture, drift of live inputs and predictions, live quality (`modelcd monitor`)."""
