"""The evaluation, and everything else in w2v that uses TensorFlow: the folder is the rule.

`metrics` computes eval.json (neighbours, analogies solved in `analogies`, word pairs) from the
files `sets` reads; `projector` writes TensorBoard's projector files; `stage` runs the evaluation
in this process or as a Ray task of its own and publishes what it made; `keras_io` gives other
teams a Keras embedding layer of an artifact. All of them get TensorFlow from `tf_common`, inside
their functions, so importing any of them (or this package, which imports nothing) never imports
TensorFlow: the driver and the trainer actors never pay for it.
"""
