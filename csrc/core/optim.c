/* optim.c - the optimizers: SGD (momentum, Nesterov), Adam and AdamW, their
 * names, configuration and state (moments in the M and V arenas, the step
 * count). */
#include "internal.h"
#include "threadpool.h"

#include <math.h>
#include <string.h>

#define ADAM_BETAS_EPS 0.9, 0.999, 1e-8 /* Kingma & Ba's defaults, also AdamW's */
const tl_optim_def tl_optims[TL_OPTIM_COUNT] = {
    [TL_OPTIM_SGD] = {"sgd", 0.0, 0, 0.0, 0.0, 0.0, 0.0},
    [TL_OPTIM_ADAM] = {"adam", 0.0, 0, 0.0, ADAM_BETAS_EPS},
    [TL_OPTIM_ADAMW] = {"adamw", 0.0, 0, 0.01, ADAM_BETAS_EPS},
};

tl_optim_cfg tl_optim_defaults(tl_optim kind) {
    const tl_optim_def *d = &tl_optims[kind];
    return (tl_optim_cfg){kind, (float)d->momentum, d->nesterov, (float)d->weight_decay, (float)d->beta1,
                          (float)d->beta2, (float)d->eps};
}

/* The update of elements [lo, hi) of one parameter: the job of a parallel
 * loop (elementwise, so the same bits whatever the parts). */
typedef struct {
    const tl_optim_cfg *o;
    float *w, *m, *v;
    const float *g, *mask;
    float lr, bc1, bc2;
} upd_job;

static void update_range(void *ctx, int64_t lo, int64_t hi) {
    const upd_job *j = ctx;
    const tl_optim_cfg *o = j->o;
    const float lr = j->lr;
    float *restrict w = j->w, *restrict m = j->m, *restrict v = j->v;
    const float *restrict g = j->g, *restrict mask = j->mask;
    switch (o->kind) {
    case TL_OPTIM_SGD: {
        /* Every element is computed and the mask selects between the new
         * and the old value, so the loops have no branch and vectorize; a
         * frozen element (mask 0) keeps its weight and momentum bit for
         * bit whatever its gradient holds. */
        const float mu = o->momentum, wd = o->weight_decay;
        if (mu == 0.0f) {
            for (int64_t i = lo; i < hi; i++) {
                float wi = w[i], nw = wi - lr * (g[i] + wd * wi);
                float ow = mask[i] != 0.0f ? nw : wi;
                w[i] = ow;
            }
        } else if (!o->nesterov) {
            for (int64_t i = lo; i < hi; i++) {
                float wi = w[i], mi = m[i], nm = mu * mi + (g[i] + wd * wi);
                float nw = wi - lr * nm;
                int on = mask[i] != 0.0f;
                float om = on ? nm : mi, ow = on ? nw : wi; /* selected, then stored: vectorizes */
                m[i] = om;
                w[i] = ow;
            }
        } else {
            for (int64_t i = lo; i < hi; i++) {
                float wi = w[i], mi = m[i], gi = g[i] + wd * wi, nm = mu * mi + gi;
                float nw = wi - lr * (gi + mu * nm);
                int on = mask[i] != 0.0f;
                float om = on ? nm : mi, ow = on ? nw : wi;
                m[i] = om;
                w[i] = ow;
            }
        }
        break;
    }
    case TL_OPTIM_COUNT: /* refused by tl_net_set_optim */
        break;
    case TL_OPTIM_ADAM:
    case TL_OPTIM_ADAMW: {
        const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
        const float wd = o->weight_decay, step = lr / j->bc1, isq = 1.0f / sqrtf(j->bc2);
        const float cwd = o->kind == TL_OPTIM_ADAMW ? 0.0f : wd;      /* coupled: into the gradient */
        const float dwd = o->kind == TL_OPTIM_ADAMW ? lr * wd : 0.0f; /* decoupled: on the weight */
        for (int64_t i = lo; i < hi; i++) {
            float wi = w[i], mi = m[i], vi = v[i];
            float gi = g[i] + cwd * wi;
            float nw = wi - dwd * wi;
            float nm = b1 * mi + (1.0f - b1) * gi;
            float nv = b2 * vi + (1.0f - b2) * gi * gi;
            nw -= step * nm / (sqrtf(nv) * isq + eps);
            int on = mask[i] != 0.0f;
            float om = on ? nm : mi, ov = on ? nv : vi, ow = on ? nw : wi;
            m[i] = om;
            v[i] = ov;
            w[i] = ow;
        }
        break;
    }
    }
}

/* Parameters of at least 2 TL_GRAIN_FLOATS elements are updated in parts on the
 * core's pool: a dense step gains a little, a conv step nothing lost
 * (bench/README.md, "Optimizer updates on the pool"). */

void tl_optim_update(tl_net *net, float lr) {
    const tl_optim_cfg *o = &net->optim;
    net->t++;
    float bc1 = 1.0f, bc2 = 1.0f;
    if (o->kind != TL_OPTIM_SGD) {
        bc1 = 1.0f - powf(o->beta1, (float)net->t);
        bc2 = 1.0f - powf(o->beta2, (float)net->t);
    }
    for (int p = 0; p < net->n_params; p++) {
        const tl_param *pr = &net->params[p];
        if (!pr->trainable || pr->buffer) continue;
        upd_job j = {o, net->arena[TL_ARENA_VALUE] + pr->offset, net->arena[TL_ARENA_M] + pr->offset,
                     net->arena[TL_ARENA_V] + pr->offset, net->arena[TL_ARENA_GRAD] + pr->offset,
                     net->arena[TL_ARENA_MASK] + pr->offset, lr, bc1, bc2};
        tl_parallel_for(pr->size, TL_GRAIN_FLOATS, update_range, &j);
    }
}

tl_status tl_net_set_optim(tl_net *net, const tl_optim_cfg *cfg) {
    if (cfg->kind < TL_OPTIM_SGD || cfg->kind >= TL_OPTIM_COUNT)
        return tl_set_error(net, TL_ERR_VALUE, "unknown optimizer %d", (int)cfg->kind);
    if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
        return tl_set_error(net, TL_ERR_VALUE, "momentum must be in [0, 1), got %g", (double)cfg->momentum);
    if (cfg->nesterov && cfg->momentum == 0.0f)
        return tl_set_error(net, TL_ERR_VALUE, "Nesterov momentum needs momentum > 0");
    if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay))
        return tl_set_error(net, TL_ERR_VALUE, "weight decay must be finite and >= 0, got %g", (double)cfg->weight_decay);
    if (cfg->kind != TL_OPTIM_SGD &&
        !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f && cfg->eps > 0.0f))
        return tl_set_error(net, TL_ERR_VALUE, "Adam needs 0 <= beta1, beta2 < 1 and eps > 0, got %g, %g, %g",
                            (double)cfg->beta1, (double)cfg->beta2, (double)cfg->eps);
    net->optim = *cfg;
    net->optim_set = 1;
    return TL_OK;
}

void tl_net_reset_optim(tl_net *net) {
    if (!net->finalized) return;
    memset(net->arena[TL_ARENA_M], 0, sizeof(float) * (size_t)net->arena_size);
    memset(net->arena[TL_ARENA_V], 0, sizeof(float) * (size_t)net->arena_size);
    net->t = 0;
}
int64_t tl_net_optim_steps(const tl_net *net) { return net->t; }
void tl_net_set_optim_steps(tl_net *net, int64_t t) { net->t = t; }
