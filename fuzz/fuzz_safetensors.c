/* libFuzzer target: the safetensors reader and the official-checkpoint import. Input layout:
 * 'C', one length byte L, L bytes of config.json, then the safetensors bytes; anything else is
 * a safetensors file imported without a config (arch read off the shapes, 1 head). */
#include <stddef.h>
#include <stdint.h>

#include "mist_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mist_err err;
    const char *config = NULL;
    size_t clen = 0;
    if (size >= 2 && data[0] == 'C' && (size_t)data[1] + 2 <= size) {
        config = (const char *)data + 2;
        clen = data[1];
        data += 2 + clen;
        size -= 2 + clen;
    }
    mist_safetensors st;
    if (mist_safetensors_parse(data, size, "fuzz.safetensors", &st, &err) == MIST_OK) {
        for (size_t i = 0; i < st.ntensors; i++)
            (void)mist_safetensors_find(&st, st.tensors[i].name);
        mist_safetensors_free(&st);
    }
    mist_convert_opts o = {1, MIST_ACT_GELU};
    mist_model *m = mist_import_official_mem(data, size, "fuzz.safetensors", config, clen,
                                             "config.json", &o, &err);
    mist_model_free(m);
    return 0;
}
