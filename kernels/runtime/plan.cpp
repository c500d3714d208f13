#include "plan.h"

#include <algorithm>

namespace edgevlm::run {

Plan parse_plan_off(const std::string &off) {
    Plan p;
    size_t start = 0;
    while (start <= off.size()) {
        const size_t end = std::min(off.find(',', start), off.size());
        const std::string name = off.substr(start, end - start);
        if (name == "overlap") p.overlap = false;
        else if (name == "free-vision") p.free_vision = false;
        else if (name == "drop-pages") p.drop_pages = false;
        else if (name == "small-buffers") p.small_buffers = false;
        else if (!name.empty())
            throw PlanError("--off: \"" + name + "\" is not a saving: use overlap, free-vision, drop-pages"
                            " or small-buffers (comma-separated), or leave it empty");
        start = end + 1;
    }
    return p;
}

}  // namespace edgevlm::run
