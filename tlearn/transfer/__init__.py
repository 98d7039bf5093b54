"""Transfer-learning recipes, each a class named after its technique with
scikit-learn's verbs (``fit``, ``predict``, ``score``, ``transform``) and
the trained :class:`tlearn.Model` reachable as ``model_``.

Labelled source, labelled target (fine-tuning, conservative training,
layer transfer): :class:`FineTune` (one-/few-shot, L2-SP, EWC, output
consistency / LwF), :func:`source_network`, :func:`estimate_fisher`, and the
layer tools :func:`copy_layers`, :func:`freeze` (whole layers or element
masks), :func:`first_n`, :func:`last_n`, :func:`parametric_layers`, and the
protocol of Yosinski et al. 2014, :class:`Yosinski` (and :func:`yosinski`).

Every recipe derives from :class:`Recipe` (scikit-learn's contract).

Labelled source, unlabelled target (domain adaptation):
:class:`DANN`, :class:`DeepCORAL`, :class:`AdaBN` (and its
:func:`reestimate_batchnorm`), and the baseline
:class:`SourceOnly` (trained on labelled target data it is the
train-on-target bound); :func:`proxy_a_distance` measures how well a linear
classifier tells two domains apart.

Tasks one after another: :class:`ProgressiveNet` (progressive neural
networks, a frozen column per earlier task and lateral adapters).

Labelled source, unlabelled target of new classes (zero-shot learning):
:class:`DAP`, :class:`AttributeEmbedding` and :class:`ConSE`, the class
table (:class:`ClassTable`) passed as data to ``fit``, ``predict`` and ``score``.

Multitask learning: :class:`MultiTask` (one shared trunk, one head per
task, examples labelled for only some tasks, task-specific input branches).
"""
from ._domain import DomainAdaptation, SourceOnly
from .adabn import AdaBN, reestimate_batchnorm
from .coral import DeepCORAL
from .dann import DANN
from .pad import proxy_a_distance
from . import nets
from .finetune import FineTune, source_network
from .fisher import estimate_fisher
from .layers import copy_layers, first_n, freeze, last_n, parametric_layers
from ._base import NotFittedError, Recipe
from .yosinski import Yosinski, transferred, yosinski
from .zeroshot import DAP, AttributeEmbedding, ClassTable, ConSE, class_scores, per_class_accuracy
from .selftaught import Autoencoder, SelfTaught, SoftmaxRegression
from .clustering import KMeans
from .multitask import MultiTask
from .progressive import ProgressiveNet

__all__ = ["DomainAdaptation", "SourceOnly", "AdaBN", "reestimate_batchnorm", "DeepCORAL", "DANN", "proxy_a_distance", "nets",
           "FineTune", "estimate_fisher", "source_network",
           "copy_layers", "first_n", "freeze", "last_n", "parametric_layers", "transferred", "yosinski", "Yosinski", "Recipe", "NotFittedError",
           "DAP", "AttributeEmbedding", "ConSE", "ClassTable", "class_scores", "per_class_accuracy",
           "Autoencoder", "SelfTaught", "SoftmaxRegression", "KMeans"]
__all__ += ["ProgressiveNet"]
__all__ += ["MultiTask"]
