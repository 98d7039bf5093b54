/* zeroshot.h - the compat op: every example's compatibility with every class
 * of a class table (zero-shot learning: attribute embedding, ConSE, DAP).
 *
 * Inputs: x (B, D), one feature vector per example, and G (B, D, C), each
 * example's class embeddings, one column per class (the class table rides
 * along in every example of the batch; a tower of 1x1 convolutions over the
 * (attributes, classes, 1) table gives it this layout).  Output s (B, C). */
#ifndef TL_ZEROSHOT_H
#define TL_ZEROSHOT_H

#include "internal.h"

enum { TL_COMPAT_DOT = 0, TL_COMPAT_COSINE };     /* values of metric */
extern const char *const tl_compat_metrics[3];    /* "dot", "cosine", NULL */

/* s_bc = x_b . G_b[:, c] (dot) or that over max(|x_b|, eps) max(|G_b[:, c]|, eps) (cosine);
 * norms (B, 1 + C): |x_b| then |G_b[:, c]| (cosine only, NULL for dot) */
void tl_compat_forward(float *s, float *norms, const float *x, const float *g, int B, int D, int C, int cosine);
/* dx (B, D) += ds ds/dx, dg (B, D, C) += ds ds/dG; either may be NULL (not needed) */
void tl_compat_backward(float *dx, float *dg, const float *ds, const float *s, const float *norms, const float *x,
                        const float *g, int B, int D, int C, int cosine);

/* the op table's glue (ops.def holds the row) */
tl_status tl_compat_infer(tl_net *net, tl_node *node, const int *shape, int ndim);
int64_t tl_compat_aux(const tl_net *net, const tl_node *node);
void tl_compat_fwd(tl_net *net, tl_node *node, int B, int train);
void tl_compat_bwd(tl_net *net, tl_node *node, int B);

#endif
