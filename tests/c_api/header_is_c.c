/* perdiem.h must compile as plain C11 with every warning as an error, callbacks included. */
#include "perdiem/perdiem.h"

static void on_step(const perdiem_step_event* event, void* user_data) {
  (void)event;
  (void)user_data;
}

static perdiem_code on_chat(const perdiem_host_request* request, perdiem_host_reply* reply,
                            void* user_data) {
  (void)request;
  (void)user_data;
  return perdiem_host_reply_set_content(reply, "");
}

int main(void) {
  perdiem_runtime_options options = perdiem_runtime_options_default();
  (void)options;
  perdiem_step_callback step = on_step;
  perdiem_host_chat_fn chat = on_chat;
  (void)step;
  (void)chat;
  return perdiem_code_name(PERDIEM_CODE_OK)[0] == 'o' ? 0 : 1;
}
