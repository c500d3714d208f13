// edgevlm-serve's and the runtime's parts that need no model: strict base64, stop strings and UTF-8 held back
// in a stream, the image LRU, the admission queue, the conversation read from a chat template, and the
// OpenAI request checks (each fault a BadRequest with its parameter). Exact expectations: these are pure
// functions of their input.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "admission.h"
#include "base64.h"
#include "image_cache.h"
#include "openai.h"
#include "prompt.h"
#include "stop_text.h"

using namespace edgevlm;

static int failures = 0;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

static void test_base64() {
    CHECK(serve::base64_decode("aGVsbG8=") == std::string("hello"));
    CHECK(serve::base64_decode("aGVsbG8") == std::string("hello"));   // padding optional
    CHECK(serve::base64_decode("aGk=") == std::string("hi"));
    CHECK(serve::base64_decode("") == std::string());
    CHECK(!serve::base64_decode("aGVsbG8*"));   // outside the alphabet
    CHECK(!serve::base64_decode("a"));          // a length no encoder writes
    CHECK(!serve::base64_decode("aGVsbG9="));   // non-zero padding bits
    CHECK(!serve::base64_decode("aG=k"));       // '=' inside
}

static void test_stop_text() {
    serve::StopText t({"END"});
    CHECK(t.add("Hello E"));
    CHECK(t.take_ready() == "Hello ");   // "E" may start END: held back
    CHECK(t.add("N"));
    CHECK(t.take_ready().empty());
    CHECK(!t.add("D and more"));         // stop found: the text ends before it
    CHECK(t.text() == "Hello ");
    CHECK(t.take_rest().empty());
    serve::StopText u({});
    CHECK(u.add("caf\xc3"));             // a cut UTF-8 sequence is not sent yet
    CHECK(u.take_ready() == "caf");
    CHECK(u.add("\xa9!"));
    CHECK(u.take_ready() == "\xc3\xa9!");
    serve::StopText v({"EN"});
    CHECK(v.add("abcE"));
    CHECK(v.take_ready() == "abc");
    CHECK(v.add("x"));                   // not the stop after all: released
    CHECK(v.take_ready() == "Ex");
}

static void test_image_cache() {
    serve::ImageCache c(2);
    CHECK(!c.find("a").embedding);
    const int64_t a = c.put("a", {}).id, b = c.put("b", {}).id;
    CHECK(a != b);
    CHECK(c.find("a").id == a);          // a is now the most recent
    const int64_t d = c.put("d", {}).id; // evicts b, the least recent
    CHECK(!c.find("b").embedding && c.find("a").id == a && c.find("d").id == d);
    CHECK(c.put("b", {}).id > d);        // back again: a new id (its KV rows are not the old ones)
    CHECK(c.size() == 2 && c.hits() == 3 && c.misses() == 2);
}

static void test_admission() {
    serve::Admission q(1);
    CHECK(q.enter());   // runs
    std::atomic<int> order{0};
    int second_at = -1;
    std::thread waiter([&] {
        CHECK(q.enter());   // waits for the first
        second_at = order++;
        q.leave();
    });
    while (q.waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(!q.enter());  // one running, one waiting, capacity 1: refused at once
    order++;
    q.leave();
    waiter.join();
    CHECK(second_at == 1 && q.running() == 0 && q.waiting() == 0);
}

static void test_conversation() {
    const std::string tmpl =
        "{%- if messages[0]['role'] == 'system' -%}{%- set system = messages[0]['content'] -%}{%- else -%}"
        "{%- set system = 'A bot\\'s \\\\ rules.' -%}{%- endif -%}";
    CHECK(run::system_prompt_of_template(tmpl) == "A bot's \\ rules.");
    CHECK(run::system_prompt_of_template("{{ messages }}").empty());
    const run::PromptParts p = run::vicuna_v1("SYS", "What?", true);
    CHECK(p.before == "SYS USER: " && p.after == "\nWhat? ASSISTANT:");
    const run::PromptParts t = run::vicuna_v1("SYS", "Hi", false);
    CHECK(t.before.empty() && t.after == "SYS USER: Hi ASSISTANT:");
    const run::PromptParts m = run::render_vicuna("SYS", {{"system", "Be brief."}, {"user", "Q1", true},
                                                          {"assistant", "A1"}, {"user", "Q2"}});
    CHECK(m.before == "Be brief. USER: " && m.after == "\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT:");
}

static std::string bad(const std::string &body, const serve::Limits &limits) {
    try {
        serve::parse_chat_request(body, limits, {});
    } catch (const serve::BadRequest &e) {
        return e.code.empty() ? e.param : e.code;
    }
    return "accepted";
}

static void test_openai_requests() {
    serve::Limits l{"mobilevlm", 16, 128, 512};
    const std::string png = "iVBORw0KGgo=";   // the 8-byte PNG signature, base64
    CHECK(bad("{", l) == "");                                               // not JSON
    CHECK(bad("{\"messages\": []}", l) == "messages");
    CHECK(bad("{\"model\": \"gpt-4\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", l) == "model_not_found");
    CHECK(bad("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 512}", l) == "context_length_exceeded");
    CHECK(bad("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": -1}", l) == "temperature");
    const auto with_url = [](const std::string &url) {
        return "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"q\"}, "
               "{\"type\": \"image_url\", \"image_url\": {\"url\": \"" + url + "\"}}]}]}";
    };
    CHECK(bad(with_url("https://example.invalid/x.png"), l) == "invalid_image_url");
    CHECK(bad(with_url("data:image/gif;base64," + png), l) == "invalid_image_format");
    CHECK(bad(with_url("data:image/png;base64,@@@@"), l) == "invalid_base64");
    CHECK(bad(with_url("data:image/png;base64," + png + png + png), l) == "image_too_large");   // 24 > 16 bytes
    CHECK(bad(with_url("data:image/png;base64," + png), l) == "accepted");   // decoded; the pixels are checked later
    const serve::ChatRequest r = serve::parse_chat_request(
        "{\"model\": \"mobilevlm\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 7,"
        " \"stop\": [\"x\", \"\"], \"stream\": true, \"seed\": 3, \"ignore_eos\": true}", l, {});
    CHECK(r.max_tokens == 7 && r.stream && r.seed == 3 && r.stop.size() == 1 && r.turns.size() == 1 && r.ignore_eos);
    const std::string chunk = serve::stream_chunk({"id1", "m", "", "", 5, 0, 0}, "a\"b", false, "");
    CHECK(chunk.rfind("data: {", 0) == 0 && chunk.size() > 2 && chunk.substr(chunk.size() - 2) == "\n\n");
    CHECK(chunk.find("\"content\":\"a\\\"b\"") != std::string::npos);
}

int main() {
    test_base64();
    test_stop_text();
    test_image_cache();
    test_admission();
    test_conversation();
    test_openai_requests();
    if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
    else std::printf("serve units: all checks passed\n");
    return failures ? 1 : 0;
}
