"""What next: the talk's reading list, each entry with what it teaches and where it shows up in
the lab."""

from typing import NamedTuple

import streamlit as st


class Reading(NamedTuple):
    title: str
    source: str  # authors, venue, year
    url: str | None  # None where there is no single stable address
    teaches: str  # one or two sentences
    chapter: str | None  # the lab page it goes with


CH1, CH2, CH3, CH4 = ("pages/ch1_bayes.py", "pages/ch2_bayesian_training.py",
                      "pages/ch3_variational_inference.py", "pages/ch4_playground.py")
CHAPTER_LABELS = {CH1: "1 · Bayes' theorem", CH2: "2 · The Bayesian view of training",
                  CH3: "3 · Variational inference", CH4: "4 · Variational Bayes in code"}

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
                "classify images it has never seen. The same idea as chapter 4, in PyTorch.",
                CH4),
    ),
    "Primary papers": (
        Reading("Weight Uncertainty in Neural Networks (Bayes by Backprop)",
                "C. Blundell, J. Cornebise, K. Kavukcuoglu, D. Wierstra, ICML 2015",
                "https://arxiv.org/abs/1505.05424",
                "A Gaussian over every weight, trained by backprop on the ELBO with the "
                "reparameterisation trick and std = softplus(ρ): exactly what `bnnlab.vi` "
                "implements.", CH4),
        Reading("Variational Dropout and the Local Reparameterization Trick",
                "D. P. Kingma, T. Salimans, M. Welling, NeurIPS 2015",
                "https://arxiv.org/abs/1506.02557",
                "Sample pre-activations instead of weights: the same ELBO gradient with much "
                "lower variance and one draw per example, and dropout read as variational "
                "inference.", CH4),
        Reading("Flipout: Efficient Pseudo-Independent Weight Perturbations on Mini-Batches",
                "Y. Wen, P. Vicol, J. Ba, D. Tran, R. Grosse, ICLR 2018",
                "https://arxiv.org/abs/1803.04386",
                "Random sign flips give each example in a mini-batch its own weight "
                "perturbation at almost no extra cost, decorrelating the gradients.", CH4),
        Reading("‘In-Between’ Uncertainty in Bayesian Neural Networks",
                "A. Y. K. Foong, Y. Li, J. M. Hernández-Lobato, R. E. Turner, 2019",
                "https://arxiv.org/abs/1906.11537",
                "Mean-field VI in a one-hidden-layer BNN cannot be more uncertain between two "
                "clusters of data than on them; try it with the gaussians dataset.", CH4),
        Reading("How Good is the Bayes Posterior in Deep Neural Networks Really? (cold "
                "posteriors)", "F. Wenzel et al., ICML 2020",
                "https://arxiv.org/abs/2002.02405",
                "Sharpening the posterior (temperature T < 1, or a small KL weight β) often "
                "predicts better than the true Bayes posterior: a puzzle about priors and "
                "data augmentation that is still debated.", CH4),
    ),
}

st.title("What next")
st.markdown(
    "The talk's reading list, in the order it is worth reading. Each entry says what it "
    "teaches and which chapter of the lab goes with it."
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
