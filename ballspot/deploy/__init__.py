"""Deploy: a model folder without the training stack. ONNX export of the 2D encoder and of the
3D part with the head, and an onnxruntime network that the caching predictor runs as it runs the
PyTorch model. May import ``core``, ``data``, ``model`` and ``predict``; ``onnx`` and
``onnxruntime`` are the optional ``deploy`` extra, imported only when used.
"""
