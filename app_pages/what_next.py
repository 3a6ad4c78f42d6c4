"""What next: the talk's reading list and the papers behind the lab's methods, each entry with
what it teaches and where it shows up in the lab (or that it does not)."""

from typing import NamedTuple

import streamlit as st


class Reading(NamedTuple):
    title: str
    source: str  # authors, venue, year
    url: str | None  # None where there is no single stable address
    teaches: str  # one or two sentences
    chapter: str | None  # the lab page it goes with; None: not in the lab
    not_in_lab: str = ""  # where `chapter` is None: what the lab does instead


CH1, CH2, CH3, CH4, CH5 = ("app_pages/ch1_bayes.py", "app_pages/ch2_bayesian_training.py",
                           "app_pages/ch3_variational_inference.py",
                           "app_pages/ch4_playground.py", "app_pages/ch5_digits.py")
CHAPTER_LABELS = {CH1: "1 · Bayes' theorem", CH2: "2 · The Bayesian view of training",
                  CH3: "3 · Variational inference", CH4: "4 · Variational Bayes in code",
                  CH5: "5 · Digits and letters"}

SECTIONS: dict[str, tuple[Reading, ...]] = {
    "Foundations": (
        Reading("Bayesian inference: the intuition", "Wikipedia, “Bayesian inference”",
                "https://en.wikipedia.org/wiki/Bayesian_inference",
                "Beliefs as probabilities, updated by evidence: posterior ∝ likelihood × prior. "
                "Read it with the bug-free-code example open and move the sliders.", CH1),
        Reading("Conjugate priors", "Wikipedia, “Conjugate prior”",
                "https://en.wikipedia.org/wiki/Conjugate_prior",
                "A prior P(θ) is conjugate to a likelihood when the posterior P(θ | X) stays in "
                "the same family (Beta–Bernoulli, Gaussian–Gaussian), so updating is just "
                "updating a few numbers. It is also why neural networks are hard: nothing is "
                "conjugate to them.", CH2),
        Reading("Deriving the ELBO", "Wikipedia, “Evidence lower bound”",
                "https://en.wikipedia.org/wiki/Evidence_lower_bound",
                "log P(D) = ELBO(Q) + KL(Q ‖ P(θ | D)): because the KL is never negative, "
                "maximising the ELBO both tightens a bound on the evidence and pulls Q towards "
                "the posterior. Derive it once by hand with Jensen's inequality.", CH3),
        Reading("Mean-field approximation", "Wikipedia, “Variational Bayesian methods”",
                "https://en.wikipedia.org/wiki/Variational_Bayesian_methods",
                "Assume the posterior factorises over parameters, Q(θ) = Π_i Q_i(θ_i): cheap "
                "and scalable, but blind to correlations, which is why it underestimates "
                "uncertainty where parameters trade off.", CH3),
    ),
    "Surveys and tutorials": (
        Reading("Variational Inference: A Review for Statisticians",
                "D. M. Blei, A. Kucukelbir, J. D. McAuliffe, JASA 2017",
                "https://arxiv.org/abs/1601.00670",
                "The standard introduction: the ELBO, mean-field coordinate ascent, exponential "
                "families and stochastic VI, with a frank section on what VI gets wrong.", CH3),
        Reading("Making your Neural Network Say “I Don't Know”: Bayesian NNs using Pyro and "
                "PyTorch", "P. Chopra, Towards Data Science, 2018", None,
                "A hands-on blog post: a Bayesian MLP on MNIST with Pyro's SVI that refuses to "
                "classify images it has never seen. The same idea as chapter 5 (digits, tested "
                "on letters and on your drawing), in PyTorch.", CH5),
    ),
    "Primary papers": (
        Reading("Weight Uncertainty in Neural Networks (Bayes by Backprop)",
                "C. Blundell, J. Cornebise, K. Kavukcuoglu, D. Wierstra, ICML 2015",
                "https://arxiv.org/abs/1505.05424",
                "A Gaussian over every weight, trained by backprop on the ELBO with the "
                "reparameterisation trick and std = softplus(ρ): exactly what `bnnlab.methods.vi` "
                "implements.", CH4),
        Reading("Variational Dropout and the Local Reparameterization Trick",
                "D. P. Kingma, T. Salimans, M. Welling, NeurIPS 2015",
                "https://arxiv.org/abs/1506.02557",
                "Sample pre-activations instead of weights: the same ELBO gradient with much "
                "lower variance and one draw per example, and dropout read as variational "
                "inference.", None,
                "the lab's VI (`bnnlab.methods.vi`) samples whole weight vectors, "
                "θ = μ + σ ⊙ ε, and evaluates each on every training point."),
        Reading("Flipout: Efficient Pseudo-Independent Weight Perturbations on Mini-Batches",
                "Y. Wen, P. Vicol, J. Ba, D. Tran, R. Grosse, ICLR 2018",
                "https://arxiv.org/abs/1803.04386",
                "Random sign flips give each example in a mini-batch its own weight "
                "perturbation at almost no extra cost, decorrelating the gradients.", None,
                "every training point in a step of the lab's VI sees the same weight draws."),
        Reading("‘In-Between’ Uncertainty in Bayesian Neural Networks",
                "A. Y. K. Foong, Y. Li, J. M. Hernández-Lobato, R. E. Turner, 2019",
                "https://arxiv.org/abs/1906.11537",
                "Mean-field VI in a one-hidden-layer BNN cannot be more uncertain between two "
                "clusters of data than on them. On the playground, the *In-between: moons "
                "with a gap (HMC)* preset trains the reference, HMC, on the *Moons with a gap* "
                "dataset (no points where the moons interleave); switch *Inference* to "
                "mean-field VI to see how sure it stays in the gap.", CH4),
        Reading("How Good is the Bayes Posterior in Deep Neural Networks Really? (cold "
                "posteriors)", "F. Wenzel et al., ICML 2020",
                "https://arxiv.org/abs/2002.02405",
                "Sharpening the posterior (temperature T < 1, or a small KL weight β) often "
                "predicts better than the true Bayes posterior: a puzzle about priors and "
                "data augmentation that is still debated.", CH4),
    ),
    "The lab's other methods": (
        Reading("Dropout as a Bayesian Approximation: Representing Model Uncertainty in Deep "
                "Learning", "Y. Gal, Z. Ghahramani, ICML 2016",
                "https://arxiv.org/abs/1506.02142",
                "Dropout kept on at prediction is approximate variational inference: each "
                "random mask is one draw of the network. In the lab: *MC dropout* under "
                "*Inference* on the playground, and on Compare (`bnnlab/methods/dropout.py`).",
                CH4),
        Reading("Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles",
                "B. Lakshminarayanan, A. Pritzel, C. Blundell, NeurIPS 2017",
                "https://arxiv.org/abs/1612.01474",
                "Train a few networks from different random starts and average their "
                "predictions: not a posterior, yet often the best-calibrated baseline. In the "
                "lab: *Deep ensemble* on the playground and on Compare "
                "(`bnnlab/methods/ensemble.py`).", CH4),
        Reading("MCMC using Hamiltonian Dynamics", "R. M. Neal, Handbook of Markov Chain "
                "Monte Carlo, 2011", "https://arxiv.org/abs/1206.1901",
                "Hamiltonian Monte Carlo: the parameters roll over −log posterior with a random "
                "momentum, integrated by leapfrog steps, so that a proposal can travel far and "
                "still be accepted. In the lab: chapter 3 plays each trajectory's leapfrog "
                "states over the exact posterior; the playground's *HMC (reference)* samples "
                "a whole network.", CH3),
        Reading("The No-U-Turn Sampler: Adaptively Setting Path Lengths in Hamiltonian Monte "
                "Carlo", "M. D. Hoffman, A. Gelman, JMLR 2014",
                "https://arxiv.org/abs/1111.4246",
                "NUTS doubles each trajectory until its ends turn back towards each other, and "
                "tunes the step size during warm-up. In the lab: chapter 3's *HMC with NUTS* "
                "row plays its trajectories and U-turns; the playground's and Compare's "
                "reference is NUTS too (blackjax, `bnnlab/methods/hmc.py`).", CH3),
        Reading("A Practical Bayesian Framework for Backpropagation Networks",
                "D. J. C. MacKay, Neural Computation, 1992",
                "https://doi.org/10.1162/neco.1992.4.3.448",
                "The Laplace approximation for neural networks: a Gaussian at the trained "
                "weights from the curvature, and the evidence to choose the prior. In the "
                "lab: chapter 4's *Make this network Bayesian* on a MAP run (or *Laplace "
                "(linearised)* under *Inference*) tunes the prior σ by that evidence; chapter "
                "3 has *Laplace at the MAP* against the exact posterior.", CH4),
        Reading("Laplace Redux — Effortless Bayesian Deep Learning",
                "E. Daxberger, A. Kristiadi, A. Immer, R. Eschenhagen, M. Bauer, P. Hennig, "
                "NeurIPS 2021", "https://arxiv.org/abs/2106.14806",
                "A modern case for the Laplace approximation: the generalised Gauss–Newton "
                "curvature, last-layer Laplace, the linearised predictive and the evidence for "
                "the prior, each cheap after ordinary training. In the lab: *Laplace "
                "(linearised)* on the playground (`bnnlab/methods/laplace.py`).", CH4),
    ),
}

st.title("What next")
st.markdown(
    "The talk's reading list, in the order it is worth reading, then the papers behind the "
    "lab's other methods. Each entry says what it teaches and which chapter of the lab goes "
    "with it, or that the lab does not have it."
)

for section, readings in SECTIONS.items():
    st.header(section)
    for reading in readings:
        with st.container(border=True):
            title = f"[{reading.title}]({reading.url})" if reading.url else reading.title
            st.markdown(f"**{title}**  \n{reading.source}")
            st.write(reading.teaches)
            if reading.chapter:
                st.page_link(reading.chapter, icon=":material/science:",
                             label=f"In the lab: {CHAPTER_LABELS[reading.chapter]}")
            else:
                st.caption(f"Not in the lab: {reading.not_in_lab}")
