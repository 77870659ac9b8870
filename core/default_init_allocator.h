#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace vesta::core {

// std::allocator, except that value-initialisation (vector(n), resize(n))
// default-initialises: elements of a trivial type are left as they are
// instead of being zero-filled. For large buffers that are written in full
// right after they grow (a snapshot's rows as they are decoded), where the
// zero-fill would be a pass over every byte and would touch every fresh page
// on one thread. resize(n, value) and every other way of adding elements
// still initialise them. Stateless; interchangeable with any other instance.
template <typename T>
class DefaultInitAllocator : public std::allocator<T> {
 public:
  // No rebind member: allocator_traits rebinds a template's first parameter
  // (std::allocator has none to inherit since C++20).
  DefaultInitAllocator() = default;
  // Implicit, as allocator conversions between element types are.
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>& /*other*/) noexcept {}  // NOLINT

  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    std::allocator_traits<std::allocator<T>>::construct(static_cast<std::allocator<T>&>(*this), p,
                                                        std::forward<Args>(args)...);
  }
};

static_assert(std::is_same_v<std::allocator_traits<DefaultInitAllocator<int>>::rebind_alloc<char>,
                             DefaultInitAllocator<char>>);

// Rows of float16 bit patterns (a collection's vectors, row after row) that
// grow without being zero-filled; see DefaultInitAllocator.
using HalfVector = std::vector<uint16_t, DefaultInitAllocator<uint16_t>>;

}  // namespace vesta::core
