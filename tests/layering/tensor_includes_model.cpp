// Must NOT compile with only the tensor layer's include roots: tensor sits below model.
#include "model/model.h"
