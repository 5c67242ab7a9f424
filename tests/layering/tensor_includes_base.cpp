// Must compile with only the tensor layer's include roots (positive control for the test above).
#include "base/error.h"
#include "tensor/tensor_view.h"
