#include "depack.h"

#include <stdlib.h>

#include "mcu/error.h"

struct mcu_depack {
    const mcu_depack_ops_t *ops;
    bool corrupt;   /* a push of the current frame failed */
    void *priv;
};

int mcu_depack_create(const mcu_depack_ops_t *ops, mcu_depack_t **out)
{
    *out = NULL;
    mcu_depack_t *d = calloc(1, sizeof *d);
    if (!d)
        return MCU_ERR_NOMEM;
    d->ops = ops;
    d->priv = calloc(1, ops->priv_size ? ops->priv_size : 1);
    if (!d->priv) {
        free(d);
        return MCU_ERR_NOMEM;
    }
    int rc = ops->init ? ops->init(d->priv) : MCU_OK;
    if (rc < 0) {
        free(d->priv);
        free(d);
        return rc;
    }
    *out = d;
    return MCU_OK;
}

void mcu_depack_destroy(mcu_depack_t **pd)
{
    mcu_depack_t *d = pd ? *pd : NULL;
    if (!d)
        return;
    if (d->ops->uninit)
        d->ops->uninit(d->priv);
    free(d->priv);
    free(d);
    *pd = NULL;
}

const mcu_depack_ops_t *mcu_depack_ops(const mcu_depack_t *d) { return d->ops; }

int mcu_depack_push(mcu_depack_t *d, const uint8_t *payload, size_t len)
{
    int rc = d->ops->push(d->priv, payload, len);
    if (rc < 0)
        d->corrupt = true;
    return rc;
}

void mcu_depack_gap(mcu_depack_t *d)
{
    d->corrupt = true;
    if (d->ops->gap)
        d->ops->gap(d->priv);
}

int mcu_depack_finish(mcu_depack_t *d, bool lost, mcu_depack_frame_t *out)
{
    int rc = d->ops->finish(d->priv, out);
    if (rc == MCU_OK && (lost || d->corrupt))
        out->corrupt = true;
    d->corrupt = false;
    return rc;
}

void mcu_depack_reset(mcu_depack_t *d)
{
    d->ops->reset(d->priv);
    d->corrupt = false;
}
