// TensorView::describe for messages and `latent info`.
#include "tensor/tensor_view.h"

namespace latent {

std::string TensorView::describe() const {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "] " + std::string(dtype_name(dtype));
}

}  // namespace latent
