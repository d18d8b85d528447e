/* perdiem.h must compile as plain C11 with every warning as an error. */
#include "perdiem/perdiem.h"

int main(void) {
  perdiem_runtime_options options = perdiem_runtime_options_default();
  (void)options;
  return perdiem_code_name(PERDIEM_CODE_OK)[0] == 'o' ? 0 : 1;
}
