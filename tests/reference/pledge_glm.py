#!/usr/bin/env python3
"""Reference fits for hotspots' pledge counterfactual, from statsmodels.

Usage:
    python pledge_glm.py --input series.json --out reference.json

Input (written by the engine's test): JSON with
    baseline_months: [int]  month numbers (year * 12 + month - 1), consecutive
    y:               [float] the baseline counts
    eval_months:     [int]  the months to predict
    nb_alpha:        float  the engine's ML alpha (0 when it found none)
    nb_moment_alpha: float  the engine's Breslow moment alpha (0 when none)
    z:               float  the normal quantile of the intervals

The design matrix is built here, independently of the engine: an intercept,
eleven month-of-year indicators (January the reference) and a linear trend in
years since the first baseline month.

Output JSON:
    poisson:   {params, bse, pearson_chi2, pearson_p}  statsmodels GLM(family=Poisson());
               pearson_p = scipy.stats.chi2.sf(pearson_chi2, df_resid)
    nb_moment: {alpha, params, bse}     alpha: scipy brentq root of GLM NB's
               pearson_chi2(alpha) - df_resid (Breslow 1984), found here;
               params, bse: GLM NB at the engine's moment alpha
    nb:        {params, bse}            GLM(family=NegativeBinomial(alpha=nb_alpha))
    nb_ml:     {alpha, params}          discrete NegativeBinomial(loglike_method="nb2") MLE (alpha > 0)
    nb_profile, poisson_llf:           with alpha = 0, NB2 log-likelihoods on an alpha grid, and Poisson's
    predict_poisson / predict_nb: per evaluation month {mean, se_mean, lower, upper}
        and the sum over them {sum_mean, sum_sd}:
        mean and se_mean from results.get_prediction (statsmodels' delta
        method for the mean), the predictive sd = sqrt(se_mean^2 +
        family.variance(mean)), interval mean -/+ z sd (lower end at least 0);
        the sum's variance = g' V g + sum family.variance(mean_i),
        g = sum mean_i x_i, V = results.cov_params().

Versions (pinned in requirements.txt beside this file, Python 3.11):
    statsmodels 0.15.0, numpy 2.4.6, scipy 1.17.1, pandas 3.1.1.
"""

import argparse
import json

import numpy as np
import statsmodels.api as sm
from scipy import optimize, stats


def design(months, origin):
    months = np.asarray(months)
    x = np.zeros((len(months), 13))
    x[:, 0] = 1.0
    moy = months % 12
    for k in range(1, 12):
        x[:, k] = (moy == k).astype(float)
    x[:, 12] = (months - origin) / 12.0
    return x


def predictions(res, family, xe, z):
    pred = res.get_prediction(xe)
    mean = np.asarray(pred.predicted_mean)
    se_mean = np.asarray(pred.se_mean)
    var = family.variance(mean)
    sd = np.sqrt(se_mean**2 + var)
    g = (mean[:, None] * xe).sum(axis=0)
    cov = np.asarray(res.cov_params())
    sum_sd = float(np.sqrt(g @ cov @ g + var.sum()))
    return {
        "mean": mean.tolist(),
        "se_mean": se_mean.tolist(),
        "lower": np.maximum(mean - z * sd, 0.0).tolist(),
        "upper": (mean + z * sd).tolist(),
        "sum_mean": float(mean.sum()),
        "sum_sd": sum_sd,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    d = json.load(open(a.input))
    months = d["baseline_months"]
    y = np.asarray(d["y"], dtype=float)
    x = design(months, months[0])
    xe = design(d["eval_months"], months[0])
    z = d["z"]
    out = {}
    pois = sm.GLM(y, x, family=sm.families.Poisson()).fit(tol=1e-14, maxiter=500)
    out["poisson"] = {
        "params": pois.params.tolist(),
        "bse": pois.bse.tolist(),
        "pearson_chi2": float(pois.pearson_chi2),
        "pearson_p": float(stats.chi2.sf(pois.pearson_chi2, pois.df_resid)),
    }
    out["predict_poisson"] = predictions(pois, sm.families.Poisson(), xe, z)
    alpha = d["nb_alpha"]
    discrete = sm.NegativeBinomial(y, x, loglike_method="nb2")
    if alpha > 0:
        # statsmodels' own start (Poisson and a moment estimate of alpha):
        # BFGS (Newton from that start can step to a negative alpha), then
        # Newton from BFGS's optimum to polish.
        first = discrete.fit(method="bfgs", maxiter=5000, gtol=1e-12, disp=0)
        ml = discrete.fit(start_params=first.params, method="newton", maxiter=200, tol=1e-14, disp=0)
        out["nb_ml"] = {"alpha": float(ml.params[-1]), "params": ml.params[:-1].tolist()}
    else:
        # The engine found no over-dispersion (alpha-hat = 0): the NB2
        # log-likelihood, maximised over beta at each alpha of a grid, must
        # stay at or below the Poisson log-likelihood.
        profile = []
        for a_ in [1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.5]:
            b = sm.GLM(y, x, family=sm.families.NegativeBinomial(alpha=a_)).fit(tol=1e-14, maxiter=500)
            profile.append([a_, float(discrete.loglike(np.append(b.params, a_)))])
        out["nb_profile"] = profile
        out["poisson_llf"] = float(pois.llf)
    if alpha > 0:
        fam = sm.families.NegativeBinomial(alpha=alpha)
        nb = sm.GLM(y, x, family=fam).fit(tol=1e-14, maxiter=500)
        out["nb"] = {"params": nb.params.tolist(), "bse": nb.bse.tolist()}
        out["predict_nb"] = predictions(nb, fam, xe, z)
    am = d["nb_moment_alpha"]
    if am > 0:

        def excess(log_alpha):
            f = sm.GLM(y, x, family=sm.families.NegativeBinomial(alpha=np.exp(log_alpha))).fit(tol=1e-14, maxiter=500)
            return f.pearson_chi2 - f.df_resid

        root = optimize.brentq(excess, np.log(1e-8), np.log(1e3), xtol=1e-14, rtol=1e-14)
        fam = sm.families.NegativeBinomial(alpha=am)
        nbm = sm.GLM(y, x, family=fam).fit(tol=1e-14, maxiter=500)
        out["nb_moment"] = {"alpha": float(np.exp(root)), "params": nbm.params.tolist(), "bse": nbm.bse.tolist()}
        out["predict_nb_moment"] = predictions(nbm, fam, xe, z)
    json.dump(out, open(a.out, "w"))


if __name__ == "__main__":
    main()
